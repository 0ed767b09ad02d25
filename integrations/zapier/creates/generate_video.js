'use strict';
const { apiUrl } = require('../lib/api');
const { videoOutputFields } = require('../lib/fields');
const { startVideo, resumeVideo, waitField } = require('../lib/long_action');

const perform = (z, bundle) => {
  const input = bundle.inputData;
  const body = { prompt: input.prompt };
  if (input.duration_seconds) body.duration_seconds = parseInt(input.duration_seconds, 10);
  if (input.aspect_ratio) body.aspect_ratio = input.aspect_ratio;
  if (input.resolution) body.resolution = input.resolution;
  if (input.language) body.language = input.language;
  const mediaUrls = (input.media_urls || []).filter(Boolean);
  if (mediaUrls.length) body.media_urls = mediaUrls;
  const uploadIds = (input.upload_ids || []).filter(Boolean);
  if (uploadIds.length) body.upload_ids = uploadIds;
  if (input.metadata && Object.keys(input.metadata).length) body.metadata = input.metadata;
  return startVideo(z, bundle, { url: apiUrl(bundle, '/v1/videos'), body });
};

module.exports = {
  key: 'generate_video',
  noun: 'Video',
  display: {
    label: 'Generate Video',
    description: 'Makes an MP4 video from a text prompt and waits until it is ready.',
  },
  operation: {
    inputFields: [
      {
        key: 'prompt',
        label: 'Prompt',
        type: 'text',
        required: true,
        helpText: 'What the video should show, e.g. "a 15 second vertical clip of waves at sunset".',
      },
      {
        key: 'duration_seconds',
        label: 'Duration (seconds)',
        type: 'integer',
        required: false,
        helpText: 'From 2 to 120 seconds.',
      },
      {
        key: 'aspect_ratio',
        label: 'Aspect Ratio',
        required: false,
        choices: { '16:9': 'Landscape 16:9', '9:16': 'Vertical 9:16', '1:1': 'Square 1:1' },
      },
      {
        key: 'resolution',
        label: 'Resolution',
        required: false,
        choices: { '720p': '720p', '1080p': '1080p' },
      },
      {
        key: 'language',
        label: 'Language',
        type: 'string',
        required: false,
        helpText: 'Language of narration and titles, e.g. `en` or `fr`.',
      },
      {
        key: 'media_urls',
        label: 'Media URLs',
        type: 'string',
        list: true,
        required: false,
        helpText: 'Up to 10 public http(s) links to images or clips to use (e.g. from "Upload Media").',
      },
      {
        key: 'upload_ids',
        label: 'Upload IDs',
        type: 'string',
        list: true,
        required: false,
        helpText: 'IDs from "Upload Media" steps (start with `upl_`): files to use in the video.',
      },
      {
        key: 'metadata',
        label: 'Metadata',
        dict: true,
        required: false,
        helpText: 'Your own key/value pairs (e.g. the sheet row), returned with the video.',
      },
      waitField,
    ],
    perform,
    performResume: resumeVideo,
    sample: require('../samples/video_succeeded.json'),
    outputFields: videoOutputFields,
  },
};
