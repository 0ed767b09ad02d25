'use strict';
// Small helpers shared by every operation: URLs under the configured gateway,
// and the step from a gateway Video to the item Zapier sees.

const baseUrl = (bundle) => String(bundle.authData.baseUrl || '').trim().replace(/\/+$/, '');

const apiUrl = (bundle, path) => `${baseUrl(bundle)}${path}`;

// A Video as a Zapier item: the gateway's object unchanged (its `id` dedupes
// trigger items) plus `file`, the MP4 as a file for later steps. The file is
// dehydrated: Zapier fetches it (through hydrators.downloadVideo) only when a
// later step actually uses it.
const toItem = (z, video) => {
  const item = { ...video };
  if (video && video.status === 'succeeded' && video.output) {
    // Imported lazily: hydrators.js needs this module too.
    const hydrators = require('../hydrators');
    item.file = z.dehydrateFile(hydrators.downloadVideo, {
      videoId: video.id,
      size: video.output.size_bytes || null,
    });
  } else {
    item.file = null;
  }
  return item;
};

// A body delivered by the gateway (webhook or callback) is `{type, timestamp,
// data: <Video>}`; anything else is not ours.
const deliveredVideo = (body) => {
  if (body && typeof body === 'object' && body.data && typeof body.data === 'object' && body.data.id) {
    return { type: body.type || null, video: body.data };
  }
  return null;
};

module.exports = { baseUrl, apiUrl, toItem, deliveredVideo };
