'use strict';
// "Video Ready" / "Video Failed": REST hooks on the gateway's webhook
// subscriptions, plus polling variants over GET /v1/videos?status=...
const { apiUrl, toItem, deliveredVideo } = require('./api');
const { videoOutputFields } = require('./fields');
const { raiseProblem } = require('../middleware');

// Newest first (the gateway's order); a few when Zapier loads samples.
const listVideos = async (z, bundle, status) => {
  const limit = bundle.meta && bundle.meta.isLoadingSample ? 3 : 50;
  const response = await z.request({
    url: apiUrl(bundle, '/v1/videos'),
    params: { status, limit },
  });
  return response.data.data.map((video) => toItem(z, video));
};

const hookTrigger = ({ key, noun, label, description, status, event, sample }) => ({
  key,
  noun,
  display: { label, description },
  operation: {
    type: 'hook',
    performSubscribe: async (z, bundle) => {
      const response = await z.request({
        url: apiUrl(bundle, '/v1/webhooks'),
        method: 'POST',
        body: {
          url: bundle.targetUrl,
          events: [event],
          description: `Zapier: ${label}`,
        },
      });
      // Kept by Zapier as bundle.subscribeData (its `id` unsubscribes).
      return response.data;
    },
    performUnsubscribe: async (z, bundle) => {
      const id = bundle.subscribeData && bundle.subscribeData.id;
      if (!id) return {};
      const response = await z.request({
        url: apiUrl(bundle, `/v1/webhooks/${encodeURIComponent(id)}`),
        method: 'DELETE',
        skipThrowForStatus: true,
      });
      // Already gone is as good as deleted.
      if (response.status >= 400 && response.status !== 404) await raiseProblem(z, response);
      return { id, deleted: true };
    },
    perform: async (z, bundle) => {
      const delivered = deliveredVideo(bundle.cleanedRequest);
      if (!delivered || (delivered.type && delivered.type !== event)) return [];
      return [toItem(z, delivered.video)];
    },
    performList: (z, bundle) => listVideos(z, bundle, status),
    sample,
    outputFields: videoOutputFields,
  },
});

const pollingTrigger = ({ key, noun, label, description, status, sample }) => ({
  key,
  noun,
  display: { label, description },
  operation: {
    type: 'polling',
    perform: (z, bundle) => listVideos(z, bundle, status),
    sample,
    outputFields: videoOutputFields,
  },
});

module.exports = { hookTrigger, pollingTrigger, listVideos };
