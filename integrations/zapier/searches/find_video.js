'use strict';
const { apiUrl, toItem } = require('../lib/api');
const { videoOutputFields } = require('../lib/fields');
const { raiseProblem } = require('../middleware');

const perform = async (z, bundle) => {
  const id = String(bundle.inputData.id || '').trim();
  if (!id) return [];
  const response = await z.request({
    url: apiUrl(bundle, `/v1/videos/${encodeURIComponent(id)}`),
    skipThrowForStatus: true,
  });
  if (response.status === 404) return []; // "not found" is an empty search, not an error
  if (response.status >= 400) await raiseProblem(z, response);
  return [toItem(z, response.data)];
};

module.exports = {
  key: 'find_video',
  noun: 'Video',
  display: {
    label: 'Find Video',
    description: 'Finds a video by its ID (with a fresh download link and the MP4 file once it is ready).',
  },
  operation: {
    inputFields: [
      { key: 'id', label: 'Video ID', type: 'string', required: true, helpText: 'Starts with `vid_`.' },
    ],
    perform,
    sample: require('../samples/video_succeeded.json'),
    outputFields: videoOutputFields,
  },
};
