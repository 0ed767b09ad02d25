'use strict';
// "Upload Media": a file from an earlier step (Zapier gives file fields as a
// URL it can fetch) is streamed to POST /v1/uploads as multipart/form-data;
// its id goes into "Generate Video" (Upload IDs).
const FormData = require('form-data');
const path = require('path');
const { apiUrl } = require('../lib/api');

const filenameFrom = (response, fallbackUrl) => {
  const cd = response.headers.get('content-disposition') || '';
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
  if (match) return decodeURIComponent(match[1]);
  try {
    const name = path.posix.basename(new URL(response.url || fallbackUrl).pathname);
    if (name) return decodeURIComponent(name);
  } catch (e) {
    // fall through
  }
  return 'upload';
};

const perform = async (z, bundle) => {
  const source = bundle.inputData.file;
  const download = await z.request({ url: source, raw: true });
  if (download.status >= 400) download.throwForStatus();
  const filename = (bundle.inputData.filename || '').trim() || filenameFrom(download, source);
  const contentType = (download.headers.get('content-type') || 'application/octet-stream').split(';')[0];
  const length = parseInt(download.headers.get('content-length') || '', 10);
  const form = new FormData();
  const options = { filename, contentType };
  if (!Number.isNaN(length)) options.knownLength = length;
  form.append('file', download.body, options);
  const response = await z.request({
    url: apiUrl(bundle, '/v1/uploads'),
    method: 'POST',
    body: form,
    headers: form.getHeaders(),
  });
  return response.data;
};

module.exports = {
  key: 'upload_media',
  noun: 'Media',
  display: {
    label: 'Upload Media',
    description: 'Uploads an image, audio or video file for "Generate Video" to use.',
  },
  operation: {
    inputFields: [
      {
        key: 'file',
        label: 'File',
        type: 'file',
        required: true,
        helpText: 'A file from an earlier step (or a public link to one).',
      },
      {
        key: 'filename',
        label: 'File Name',
        type: 'string',
        required: false,
        helpText: 'With its extension (e.g. `logo.png`); by default the name the file came with.',
      },
    ],
    perform,
    sample: {
      id: 'upl_01m7ye3h1v8m2q0c9d2k',
      object: 'upload',
      filename: 'logo.png',
      format: 'png',
      media_type: 'image',
      content_type: 'image/png',
      size_bytes: 48213,
      sha256: '0b1d7f0c4f7e4f6d9d1e2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f',
      created_at: '2026-11-21T06:40:02.118744Z',
    },
    outputFields: [
      { key: 'id', label: 'Upload ID', type: 'string' },
      { key: 'object', label: 'Object Type', type: 'string' },
      { key: 'filename', label: 'File Name', type: 'string' },
      { key: 'format', label: 'Format', type: 'string' },
      { key: 'media_type', label: 'Media Type (video, image or audio)', type: 'string' },
      { key: 'content_type', label: 'Content Type', type: 'string' },
      { key: 'size_bytes', label: 'Size (bytes)', type: 'integer' },
      { key: 'sha256', label: 'SHA-256', type: 'string' },
      { key: 'created_at', label: 'Uploaded At', type: 'datetime' },
    ],
  },
};
