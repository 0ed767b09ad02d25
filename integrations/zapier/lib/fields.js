'use strict';
// Labelled output fields of a Video item (Zapier's flattened keys: `a__b`).
// test/definition.test.js fails if a sample (or a real answer in the live
// tests) has a key that is not labelled here.

const videoOutputFields = [
  { key: 'id', label: 'Video ID', type: 'string' },
  { key: 'object', label: 'Object Type', type: 'string' },
  { key: 'kind', label: 'Kind (generate or edit)', type: 'string' },
  { key: 'status', label: 'Status', type: 'string' },
  { key: 'progress', label: 'Progress (%)', type: 'integer' },
  { key: 'stage', label: 'Stage', type: 'string' },
  { key: 'prompt', label: 'Prompt', type: 'string' },
  { key: 'parent_id', label: 'Parent Video ID', type: 'string' },
  { key: 'session_id', label: 'Session ID', type: 'string' },
  { key: 'timeline', label: 'Timeline', type: 'string' },
  { key: 'changes', label: 'Changes (edits: what the draft gained, lost or changed)', list: true },
  { key: 'reply', label: 'Agent Reply', type: 'string' },
  { key: 'file', label: 'Video File (MP4)', type: 'file' },
  { key: 'output__url', label: 'Download URL (signed, expires)', type: 'string' },
  { key: 'output__expires_at', label: 'Download URL Expires At', type: 'datetime' },
  { key: 'output__content_type', label: 'File Content Type', type: 'string' },
  { key: 'output__size_bytes', label: 'File Size (bytes)', type: 'integer' },
  { key: 'output__duration_seconds', label: 'Video Duration (seconds)', type: 'number' },
  { key: 'output__width', label: 'Video Width (px)', type: 'integer' },
  { key: 'output__height', label: 'Video Height (px)', type: 'integer' },
  { key: 'output__sha256', label: 'File SHA-256', type: 'string' },
  { key: 'error__code', label: 'Error Code', type: 'string' },
  { key: 'error__message', label: 'Error Message', type: 'string' },
  { key: 'error__retryable', label: 'Error Is Retryable', type: 'boolean' },
  { key: 'error__upstream_code', label: 'NemoVideo Error Code', type: 'integer' },
  { key: 'error__registration_url', label: 'Registration URL', type: 'string' },
  { key: 'urls__self', label: 'API URL', type: 'string' },
  { key: 'urls__cancel', label: 'Cancel URL', type: 'string' },
  { key: 'urls__content', label: 'Content URL (needs the API key)', type: 'string' },
  { key: 'claim_url', label: 'Open in NemoVideo URL', type: 'string' },
  { key: 'webhook_url', label: 'Webhook URL', type: 'string' },
  { key: 'webhook_events_filter', label: 'Webhook Events', type: 'string', list: true },
  { key: 'metadata', label: 'Metadata', dict: true },
  { key: 'created_at', label: 'Created At', type: 'datetime' },
  { key: 'updated_at', label: 'Updated At', type: 'datetime' },
  { key: 'completed_at', label: 'Completed At', type: 'datetime' },
  { key: 'duration_seconds', label: 'Requested Duration (seconds)', type: 'integer' },
  { key: 'aspect_ratio', label: 'Aspect Ratio', type: 'string' },
  { key: 'resolution', label: 'Resolution', type: 'string' },
  { key: 'language', label: 'Language', type: 'string' },
];

module.exports = { videoOutputFields };
