'use strict';
const { apiUrl } = require('./lib/api');

const test = async (z, bundle) => {
  const response = await z.request({ url: apiUrl(bundle, '/v1/me') });
  return response.data;
};

// Shown on the connection: which key, and which gateway.
const connectionLabel = (z, bundle) => {
  const me = bundle.inputData || {};
  const name = (me.key && me.key.name) || 'API key';
  let host = '';
  try {
    host = new URL(bundle.authData.baseUrl).host;
  } catch (e) {
    host = '';
  }
  return host ? `${name} @ ${host}` : name;
};

module.exports = {
  type: 'custom',
  fields: [
    {
      key: 'baseUrl',
      label: 'Gateway URL',
      type: 'string',
      required: true,
      helpText: 'Where your nemo-gateway is reachable, e.g. `https://video.example.com`.',
    },
    {
      key: 'apiKey',
      label: 'API Key',
      type: 'password',
      required: true,
      helpText: 'A key from `nemo-gateway keys create --name zapier` (starts with `ngw_`).',
    },
  ],
  test,
  connectionLabel,
};
