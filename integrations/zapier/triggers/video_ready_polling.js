'use strict';
const { pollingTrigger } = require('../lib/video_triggers');

module.exports = pollingTrigger({
  key: 'video_ready_polling',
  noun: 'Video',
  label: 'Video Ready (Polling)',
  description: 'Checks for newly finished videos every few minutes, for accounts that prefer polling to instant triggers.',
  status: 'succeeded',
  sample: require('../samples/video_succeeded.json'),
});
