'use strict';
const { hookTrigger } = require('../lib/video_triggers');

module.exports = hookTrigger({
  key: 'video_ready',
  noun: 'Video',
  label: 'Video Ready',
  description: 'Triggers when a video has finished and its MP4 is ready (instant).',
  status: 'succeeded',
  event: 'video.completed',
  sample: require('../samples/video_succeeded.json'),
});
