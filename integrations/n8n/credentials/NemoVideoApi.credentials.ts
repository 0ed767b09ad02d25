import type {
	IAuthenticateGeneric,
	Icon,
	ICredentialTestRequest,
	ICredentialType,
	INodeProperties,
} from 'n8n-workflow';

export class NemoVideoApi implements ICredentialType {
	name = 'nemoVideoApi';

	displayName = 'NemoVideo Gateway API';

	icon: Icon = { light: 'file:../icons/nemovideo.svg', dark: 'file:../icons/nemovideo.dark.svg' };

	documentationUrl = 'https://github.com/nemo-gateway/nemo-gateway/tree/main/integrations/n8n';

	properties: INodeProperties[] = [
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: 'http://localhost:8080',
			placeholder: 'https://gateway.example.com',
			description: 'Where your nemo-gateway answers (without /v1)',
			required: true,
		},
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description: 'A key from `nemo-gateway keys create` (starts with ngw_)',
			required: true,
		},
	];

	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: {
			headers: {
				Authorization: '=Bearer {{$credentials.apiKey}}',
			},
		},
	};

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.baseUrl.replace(/\\/+$/, "")}}',
			url: '/v1/me',
		},
	};
}
