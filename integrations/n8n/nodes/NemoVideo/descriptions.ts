import type { INodeProperties } from 'n8n-workflow';

export const resourceProperty: INodeProperties = {
	displayName: 'Resource',
	name: 'resource',
	type: 'options',
	noDataExpression: true,
	options: [
		{ name: 'Credit', value: 'credit' },
		{ name: 'Session', value: 'session' },
		{ name: 'Upload', value: 'upload' },
		{ name: 'Video', value: 'video' },
	],
	default: 'video',
};

export const operationProperties: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['video'] } },
		options: [
			{
				name: 'Cancel',
				value: 'cancel',
				description: 'Cancel a video that is not finished',
				action: 'Cancel a video',
			},
			{
				name: 'Download',
				value: 'download',
				description: 'Download the MP4 of a finished video as binary data',
				action: 'Download a video',
			},
			{
				name: 'Edit',
				value: 'edit',
				description: 'Change a finished video with an instruction; makes a new video',
				action: 'Edit a video',
			},
			{
				name: 'Generate',
				value: 'generate',
				description: 'Make a video from a prompt, optionally waiting for the MP4',
				action: 'Generate a video',
			},
			{
				name: 'Get',
				value: 'get',
				description: 'Read a video',
				action: 'Get a video',
			},
			{
				name: 'Get Many',
				value: 'getAll',
				description: 'List videos, newest first',
				action: 'Get many videos',
			},
		],
		default: 'generate',
	},
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['session'] } },
		options: [
			{
				name: 'Create',
				value: 'create',
				description: 'Start an empty chat session (the first message sets it up)',
				action: 'Create a session',
			},
			{
				name: 'Get',
				value: 'get',
				description: 'Read a session: decoded timeline, claim link, credits spent',
				action: 'Get a session',
			},
			{
				name: 'Send Message',
				value: 'sendMessage',
				description: 'Send a chat message to the agent of a session and get its reply',
				action: 'Send a message to a session',
			},
		],
		default: 'sendMessage',
	},
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['upload'] } },
		options: [
			{
				name: 'Create',
				value: 'create',
				description: 'Upload a media file (binary data or a URL) for later videos and messages',
				action: 'Upload a media file',
			},
		],
		default: 'create',
	},
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['credit'] } },
		options: [
			{
				name: 'Get',
				value: 'get',
				description: 'Read the NemoVideo credits available to the gateway',
				action: 'Get credits',
			},
		],
		default: 'get',
	},
];

const waitProperties = (operation: string): INodeProperties[] => [
	{
		displayName: 'Wait for Completion',
		name: 'waitForCompletion',
		type: 'boolean',
		default: true,
		displayOptions: { show: { resource: ['video'], operation: [operation] } },
		description:
			'Whether to wait until the video is finished. Off: the node returns the queued video at once (use the NemoVideo Trigger or a webhook URL to hear about it).',
	},
	{
		displayName: 'Max Wait (Seconds)',
		name: 'maxWaitSeconds',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 3600 },
		default: 900,
		displayOptions: {
			show: { resource: ['video'], operation: [operation], waitForCompletion: [true] },
		},
		description:
			'Give up (with an error) when the video is not finished by then. On n8n Cloud, keep under its execution limits or use the workflow template with a Wait node instead.',
	},
	{
		displayName: 'Download MP4',
		name: 'download',
		type: 'boolean',
		default: true,
		displayOptions: {
			show: { resource: ['video'], operation: [operation], waitForCompletion: [true] },
		},
		description: 'Whether to attach the finished MP4 as binary data for the next node',
	},
	{
		displayName: 'Put Output File in Field',
		name: 'binaryPropertyName',
		type: 'string',
		default: 'data',
		required: true,
		displayOptions: {
			show: {
				resource: ['video'],
				operation: [operation],
				waitForCompletion: [true],
				download: [true],
			},
		},
		hint: 'The name of the output binary field to put the MP4 in',
	},
];

const webhookOptions: INodeProperties[] = [
	{
		displayName: 'Idempotency Key',
		name: 'idempotencyKey',
		type: 'string',
		default: '',
		description:
			'The same key with the same request within 24 hours returns the first video instead of making another',
	},
	{
		displayName: 'Metadata (JSON)',
		name: 'metadata',
		type: 'json',
		default: '{}',
		description: 'Your own JSON object, returned as given on the video and in webhooks',
	},
	{
		displayName: 'Webhook Events',
		name: 'webhookEventsFilter',
		type: 'multiOptions',
		options: [
			{ name: 'Completed, Failed or Canceled', value: 'completed' },
			{ name: 'Progress', value: 'progress' },
			{ name: 'Started', value: 'start' },
		],
		default: ['completed'],
		description: 'Which events are sent to the webhook URL',
	},
	{
		displayName: 'Webhook URL',
		name: 'webhookUrl',
		type: 'string',
		default: '',
		placeholder: 'https://example.com/hooks/video',
		description: 'Where the gateway POSTs signed events about this video',
	},
];

export const videoProperties: INodeProperties[] = [
	// ----- generate
	{
		displayName: 'Prompt',
		name: 'prompt',
		type: 'string',
		typeOptions: { rows: 4 },
		required: true,
		default: '',
		placeholder: 'A 15 second vertical clip of waves at sunset, with a calm voice-over',
		displayOptions: { show: { resource: ['video'], operation: ['generate'] } },
		description: 'What the video should show (up to 4000 characters)',
	},
	...waitProperties('generate'),
	{
		displayName: 'Additional Fields',
		name: 'additionalFields',
		type: 'collection',
		placeholder: 'Add Field',
		default: {},
		displayOptions: { show: { resource: ['video'], operation: ['generate'] } },
		options: [
			{
				displayName: 'Aspect Ratio',
				name: 'aspectRatio',
				type: 'options',
				options: [
					{ name: '16:9 (Landscape)', value: '16:9' },
					{ name: '9:16 (Vertical)', value: '9:16' },
					{ name: '1:1 (Square)', value: '1:1' },
				],
				default: '16:9',
			},
			{
				displayName: 'Cancel After (Seconds)',
				name: 'cancelAfter',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 3600,
				description: 'Have the gateway cancel the video when it is not finished by then',
			},
			{
				displayName: 'Duration (Seconds)',
				name: 'durationSeconds',
				type: 'number',
				typeOptions: { minValue: 2, maxValue: 120 },
				default: 15,
			},
			{
				displayName: 'Language',
				name: 'language',
				type: 'string',
				default: '',
				placeholder: 'en',
				description: 'Language of voice-over and captions',
			},
			{
				displayName: 'Media URLs',
				name: 'mediaUrls',
				type: 'string',
				default: '',
				description: 'Up to 10 http(s) links to images or clips to use, separated by commas or new lines',
			},
			{
				displayName: 'Resolution',
				name: 'resolution',
				type: 'options',
				options: [
					{ name: '720p', value: '720p' },
					{ name: '1080p', value: '1080p' },
				],
				default: '1080p',
			},
			{
				displayName: 'Upload IDs',
				name: 'uploadIds',
				type: 'string',
				default: '',
				description: 'IDs from Upload > Create, separated by commas',
			},
			...webhookOptions,
		],
	},

	// ----- id-based operations
	{
		displayName: 'Video ID',
		name: 'videoId',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'vid_01jd8x6g7k0000000000',
		displayOptions: {
			show: { resource: ['video'], operation: ['get', 'cancel', 'download', 'edit'] },
		},
	},

	// ----- edit
	{
		displayName: 'Instruction',
		name: 'instruction',
		type: 'string',
		typeOptions: { rows: 3 },
		required: true,
		default: '',
		placeholder: "Add lo-fi music at 35% and put the title 'Urban Dreams' in the first 3 s",
		displayOptions: { show: { resource: ['video'], operation: ['edit'] } },
		description: 'What to change; the result is a new video whose parent is this one',
	},
	...waitProperties('edit'),
	{
		displayName: 'Additional Fields',
		name: 'additionalFields',
		type: 'collection',
		placeholder: 'Add Field',
		default: {},
		displayOptions: { show: { resource: ['video'], operation: ['edit'] } },
		options: webhookOptions,
	},

	// ----- download
	{
		displayName: 'Put Output File in Field',
		name: 'binaryPropertyName',
		type: 'string',
		default: 'data',
		required: true,
		displayOptions: { show: { resource: ['video'], operation: ['download'] } },
		hint: 'The name of the output binary field to put the MP4 in',
	},

	// ----- getAll
	{
		displayName: 'Return All',
		name: 'returnAll',
		type: 'boolean',
		default: false,
		displayOptions: { show: { resource: ['video'], operation: ['getAll'] } },
		description: 'Whether to return all results or only up to a given limit',
	},
	{
		displayName: 'Limit',
		name: 'limit',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 50,
		displayOptions: { show: { resource: ['video'], operation: ['getAll'], returnAll: [false] } },
		description: 'Max number of results to return',
	},
	{
		displayName: 'Filters',
		name: 'filters',
		type: 'collection',
		placeholder: 'Add Filter',
		default: {},
		displayOptions: { show: { resource: ['video'], operation: ['getAll'] } },
		options: [
			{
				displayName: 'Status',
				name: 'status',
				type: 'options',
				options: [
					{ name: 'Canceled', value: 'canceled' },
					{ name: 'Failed', value: 'failed' },
					{ name: 'Generating', value: 'generating' },
					{ name: 'Queued', value: 'queued' },
					{ name: 'Rendering', value: 'rendering' },
					{ name: 'Succeeded', value: 'succeeded' },
				],
				default: 'succeeded',
			},
		],
	},
];

export const sessionProperties: INodeProperties[] = [
	{
		displayName: 'Session ID',
		name: 'sessionId',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'ses_01jd8x6g7k0000000000',
		description: 'A session from Session > Create, or the session_id of a video',
		displayOptions: { show: { resource: ['session'], operation: ['get', 'sendMessage'] } },
	},
	{
		displayName: 'Language',
		name: 'language',
		type: 'string',
		default: '',
		placeholder: 'en',
		description: 'Language the agent should answer in (optional)',
		displayOptions: { show: { resource: ['session'], operation: ['create'] } },
	},
	{
		displayName: 'Text',
		name: 'text',
		type: 'string',
		typeOptions: { rows: 3 },
		required: true,
		default: '',
		displayOptions: { show: { resource: ['session'], operation: ['sendMessage'] } },
		description: 'What to tell the agent',
	},
	{
		displayName: 'Max Wait (Seconds)',
		name: 'maxWaitSeconds',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 3600 },
		default: 300,
		displayOptions: { show: { resource: ['session'], operation: ['sendMessage'] } },
		description:
			'How long to wait for the reply; 0 returns the accepted message at once. Gives up with an error when the reply is not there by then.',
	},
	{
		displayName: 'Additional Fields',
		name: 'additionalFields',
		type: 'collection',
		placeholder: 'Add Field',
		default: {},
		displayOptions: { show: { resource: ['session'], operation: ['sendMessage'] } },
		options: [
			{
				displayName: 'Media URLs',
				name: 'mediaUrls',
				type: 'string',
				default: '',
				description: 'Http(s) links to media for the agent, separated by commas or new lines',
			},
			{
				displayName: 'Upload IDs',
				name: 'uploadIds',
				type: 'string',
				default: '',
				description: 'IDs from Upload > Create, separated by commas',
			},
		],
	},
];

export const uploadProperties: INodeProperties[] = [
	{
		displayName: 'Source',
		name: 'source',
		type: 'options',
		options: [
			{ name: 'Binary File', value: 'binary', description: 'A file from a previous node' },
			{ name: 'URL', value: 'url', description: 'A link the gateway fetches itself' },
		],
		default: 'binary',
		displayOptions: { show: { resource: ['upload'], operation: ['create'] } },
	},
	{
		displayName: 'Input Binary Field',
		name: 'binaryPropertyName',
		type: 'string',
		default: 'data',
		required: true,
		displayOptions: { show: { resource: ['upload'], operation: ['create'], source: ['binary'] } },
		hint: 'The name of the input binary field holding the file',
	},
	{
		displayName: 'URL',
		name: 'url',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'https://example.com/photo.jpg',
		displayOptions: { show: { resource: ['upload'], operation: ['create'], source: ['url'] } },
	},
];
