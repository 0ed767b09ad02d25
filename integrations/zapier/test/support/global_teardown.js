'use strict';
const { stopStack } = require('./stack');

module.exports = async () => {
  await stopStack(globalThis.__NGW_STACK__, { keepDir: Boolean(process.env.NGW_KEEP_LOGS) });
};
