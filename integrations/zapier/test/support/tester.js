'use strict';
// createAppTester, plus a variant whose z.generateCallbackUrl() answers a
// URL of ours: the stock tester always answers Zapier's staging echo URL,
// which the gateway must not be sent to. Same handler, same event shape.
const zapier = require('zapier-platform-core');
const createLambdaHandler = require('zapier-platform-core/src/tools/create-lambda-handler');
const resolveMethodPath = require('zapier-platform-core/src/tools/resolve-method-path');

const createCallbackTester = (app, callbackUrl) => {
  const handler = createLambdaHandler(app);
  return async (methodOrFunc, bundle = {}) => {
    const method = resolveMethodPath(app, methodOrFunc, false);
    if (!method) throw new Error(`not on the app: ${methodOrFunc}`);
    const response = await handler({ command: 'execute', method, bundle, callback_url: callbackUrl });
    return { results: response.results, status: response.status };
  };
};

const authData = () => ({
  baseUrl: process.env.NGW_TEST_BASE_URL,
  apiKey: process.env.NGW_TEST_API_KEY,
});

// The gateway's API, directly (for arranging and checking).
const api = async (path, { method = 'GET', body, headers = {}, key } = {}) => {
  const response = await fetch(`${process.env.NGW_TEST_BASE_URL}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key || process.env.NGW_TEST_API_KEY}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch (e) {
    json = null;
  }
  return { status: response.status, headers: response.headers, json, text };
};

const sandbox = async (path, body) => {
  const response = await fetch(`${process.env.NGW_TEST_SANDBOX_URL}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response.json();
};

// A finished video made through the API (Prefer: wait).
const finishedVideo = async (body = {}) => {
  const created = await api('/v1/videos', {
    method: 'POST',
    headers: { prefer: 'wait=60' },
    body: { prompt: 'waves at night', duration_seconds: 2, ...body },
  });
  if (!['succeeded', 'failed', 'canceled'].includes(created.json.status)) {
    throw new Error(`video not finished: ${created.text}`);
  }
  return created.json;
};

const waitStatus = async (id, statuses, timeoutMs = 60000) => {
  const deadline = Date.now() + timeoutMs;
  let video;
  while (Date.now() < deadline) {
    video = (await api(`/v1/videos/${id}`)).json;
    if (statuses.includes(video.status)) return video;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`video ${id} stuck in ${video && video.status}`);
};

// Parses what z.dehydrateFile() produced: {type, method, bundle}.
const parseDehydrated = (value) => {
  const match = /^hydrate\|\|\|(.*)\|\|\|hydrate$/s.exec(value || '');
  if (!match) throw new Error(`not a dehydrated pointer: ${value}`);
  return JSON.parse(match[1]);
};

module.exports = {
  zapier,
  createAppTester: zapier.createAppTester,
  createCallbackTester,
  authData,
  api,
  sandbox,
  finishedVideo,
  waitStatus,
  parseDehydrated,
};
