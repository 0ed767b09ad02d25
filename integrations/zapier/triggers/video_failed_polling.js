'use strict';
const { pollingTrigger } = require('../lib/video_triggers');

module.exports = pollingTrigger({
  key: 'video_failed_polling',
  noun: 'Video',
  label: 'Video Failed (Polling)',
  description: 'Checks for newly failed videos every few minutes, for accounts that prefer polling to instant triggers.',
  status: 'failed',
  sample: require('../samples/video_failed.json'),
});
