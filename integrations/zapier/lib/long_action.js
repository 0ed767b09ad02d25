'use strict';
// Creates that outlast Zapier's 30 s limit, the Zapier way: the step hands
// z.generateCallbackUrl() to the gateway as the video's webhook_url and
// pauses; the gateway's `video.completed|failed|canceled` webhook body
// ({type, timestamp, data: <Video>}) POSTed to that URL resumes it
// (performResume gets it as bundle.cleanedRequest).
const { toItem, deliveredVideo } = require('./api');

// Zapier sends booleans as booleans or as strings depending on the surface.
const isTrue = (value, fallback) => {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  return !['false', 'no', '0', 'off'].includes(String(value).trim().toLowerCase());
};

// Zapier's editor ("Test step") never resumes a paused step: there the
// request waits for the video in the request itself, under the 30 s limit.
const SAMPLE_WAIT_SECONDS = 25;

const startVideo = async (z, bundle, { url, body }) => {
  const wait = isTrue(bundle.inputData.wait_for_completion, true);
  const loadingSample = Boolean(bundle.meta && bundle.meta.isLoadingSample);
  const headers = {};
  const payload = { ...body };
  if (wait && loadingSample) {
    headers.Prefer = `wait=${SAMPLE_WAIT_SECONDS}`;
  } else if (wait) {
    payload.webhook_url = z.generateCallbackUrl();
    payload.webhook_events_filter = ['completed'];
  }
  const response = await z.request({ url, method: 'POST', headers, body: payload });
  // With a callback URL, this is bundle.outputData in performResume.
  return toItem(z, response.data);
};

const resumeVideo = async (z, bundle) => {
  const delivered = deliveredVideo(bundle.cleanedRequest);
  if (!delivered) {
    throw new z.errors.Error(
      'The callback did not carry a video (expected the gateway webhook body {type, timestamp, data}).',
      'invalid_callback',
    );
  }
  const video = delivered.video;
  if (video.status === 'succeeded') return toItem(z, video);
  const error = video.error || {};
  const why = error.message || `the video ended ${video.status}`;
  throw new z.errors.Error(
    `Video ${video.id} ${video.status}: ${why}${error.code ? ` (${error.code})` : ''}`,
    error.code || `video_${video.status}`,
  );
};

const waitField = {
  key: 'wait_for_completion',
  label: 'Wait for the Video',
  type: 'boolean',
  default: 'true',
  required: false,
  helpText:
    'Yes (default): this step pauses until the MP4 is ready (minutes), then later steps get the finished video and its file. No: the step returns at once with the queued video; use the "Video Ready" trigger to act on it later.',
};

module.exports = { startVideo, resumeVideo, waitField, isTrue };
