'use strict';
// nemo-gateway for Zapier: generate NemoVideo videos from a Zap and get the MP4.
const packageJson = require('./package.json');
const zapier = require('zapier-platform-core');

const authentication = require('./authentication');
const middleware = require('./middleware');
const hydrators = require('./hydrators');

const videoReady = require('./triggers/video_ready');
const videoFailed = require('./triggers/video_failed');
const videoReadyPolling = require('./triggers/video_ready_polling');
const videoFailedPolling = require('./triggers/video_failed_polling');
const generateVideo = require('./creates/generate_video');
const editVideo = require('./creates/edit_video');
const uploadMedia = require('./creates/upload_media');
const findVideo = require('./searches/find_video');

const byKey = (...items) => Object.fromEntries(items.map((item) => [item.key, item]));

module.exports = {
  version: packageJson.version,
  platformVersion: zapier.version,

  authentication,
  beforeRequest: middleware.befores,
  afterResponse: middleware.afters,
  hydrators,

  triggers: byKey(videoReady, videoFailed, videoReadyPolling, videoFailedPolling),
  creates: byKey(generateVideo, editVideo, uploadMedia),
  searches: byKey(findVideo),
};
