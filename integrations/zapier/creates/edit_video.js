'use strict';
const { apiUrl } = require('../lib/api');
const { videoOutputFields } = require('../lib/fields');
const { startVideo, resumeVideo, waitField } = require('../lib/long_action');

const perform = (z, bundle) => {
  const input = bundle.inputData;
  const body = { instruction: input.instruction };
  if (input.metadata && Object.keys(input.metadata).length) body.metadata = input.metadata;
  const url = apiUrl(bundle, `/v1/videos/${encodeURIComponent(String(input.video_id).trim())}/edits`);
  return startVideo(z, bundle, { url, body });
};

module.exports = {
  key: 'edit_video',
  noun: 'Video',
  display: {
    label: 'Edit Video',
    description: 'Changes a finished video with an instruction (e.g. "make the title bigger") and waits for the new MP4.',
  },
  operation: {
    inputFields: [
      {
        key: 'video_id',
        label: 'Video',
        type: 'string',
        required: true,
        dynamic: 'video_ready_polling.id.prompt',
        helpText: 'The finished video to change (its ID starts with `vid_`).',
      },
      {
        key: 'instruction',
        label: 'Instruction',
        type: 'text',
        required: true,
        helpText: 'What to change, in words: "shorten it to 10 seconds", "add a title saying Hello".',
      },
      {
        key: 'metadata',
        label: 'Metadata',
        dict: true,
        required: false,
        helpText: 'Your own key/value pairs, returned with the edited video.',
      },
      waitField,
    ],
    perform,
    performResume: resumeVideo,
    sample: {
      ...require('../samples/video_succeeded.json'),
      id: 'vid_01m7yf2k9c0d1e2f3g4h',
      kind: 'edit',
      parent_id: 'vid_01m7yckb2w8k3ewwqfg1',
      prompt: 'add a title saying Hello',
      changes: [{ change: 'added', track_type: 'text', before: null, after: 'Hello' }],
      reply: 'I added the title "Hello" at the start.',
    },
    outputFields: videoOutputFields,
  },
};
