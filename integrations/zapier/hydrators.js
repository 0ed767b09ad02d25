'use strict';
// The MP4 as a file for later steps. A dehydrated pointer ({videoId}) is put
// in every finished item; Zapier calls this only when a step uses the file,
// and stores the bytes with z.stashFile (streamed: up to 1 GB).
const { apiUrl } = require('./lib/api');

const downloadVideo = async (z, bundle) => {
  const { videoId, size } = bundle.inputData;
  const response = z.request({
    url: apiUrl(bundle, `/v1/videos/${encodeURIComponent(videoId)}/content`),
    headers: { Accept: 'video/mp4' },
    raw: true,
  });
  return z.stashFile(response, size || undefined, `${videoId}.mp4`, 'video/mp4');
};

module.exports = { downloadVideo };
