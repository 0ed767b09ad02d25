'use strict';
// One gateway + sandbox for the whole jest run (tests run in band).
const { startStack } = require('./stack');

module.exports = async () => {
  const started = Date.now();
  const stack = await startStack();
  globalThis.__NGW_STACK__ = stack;
  process.env.NGW_TEST_BASE_URL = stack.gateway.url;
  process.env.NGW_TEST_API_KEY = stack.apiKey;
  process.env.NGW_TEST_SANDBOX_URL = stack.sandbox.url;
  process.stdout.write(`\ngateway ${stack.gateway.url} + sandbox ${stack.sandbox.url} up in ${Date.now() - started} ms\n`);
};
