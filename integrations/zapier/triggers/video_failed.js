'use strict';
const { hookTrigger } = require('../lib/video_triggers');

module.exports = hookTrigger({
  key: 'video_failed',
  noun: 'Video',
  label: 'Video Failed',
  description: 'Triggers when a video fails; the error says why (instant).',
  status: 'failed',
  event: 'video.failed',
  sample: require('../samples/video_failed.json'),
});
