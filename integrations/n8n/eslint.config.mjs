// Lint with n8n's community-node rules, configured directly (the @n8n/node-cli
// wrapper does not install offline): @n8n/eslint-plugin-community-nodes
// (what n8n's package scanner checks) plus eslint-plugin-n8n-nodes-base
// (community package.json, credentials and node description rules).
import { n8nCommunityNodesPlugin } from '@n8n/eslint-plugin-community-nodes';
import n8nNodesBase from 'eslint-plugin-n8n-nodes-base';
import tseslint from 'typescript-eslint';

const base = (config) => ({ plugins: { 'n8n-nodes-base': n8nNodesBase }, rules: config.rules });

export default tseslint.config(
	{ ignores: ['dist/**', 'node_modules/**', 'e2e/**', 'workflows/**'] },
	{
		files: ['**/*.ts'],
		extends: [tseslint.configs.recommended],
		rules: {
			'@typescript-eslint/no-explicit-any': 'off',
		},
	},
	{
		files: ['credentials/**/*.ts', 'nodes/**/*.ts', 'package.json'],
		...n8nCommunityNodesPlugin.configs.recommended,
	},
	{
		files: ['package.json'],
		languageOptions: {
			parser: tseslint.parser,
			parserOptions: { extraFileExtensions: ['.json'] },
		},
		...base(n8nNodesBase.configs.community),
	},
	{ files: ['credentials/**/*.ts'], ...base(n8nNodesBase.configs.credentials) },
	{ files: ['nodes/**/*.ts'], ...base(n8nNodesBase.configs.nodes) },
	{
		files: ['credentials/**/*.ts', 'nodes/**/*.ts'],
		rules: {
			// Superseded by @n8n/community-nodes/node-connection-type-literal (NodeConnectionTypes.Main).
			'n8n-nodes-base/node-class-description-inputs-wrong-regular-node': 'off',
			'n8n-nodes-base/node-class-description-outputs-wrong': 'off',
			// Written for n8n's own docs slugs; a community credential links to its own page
			// (checked by @n8n/community-nodes/credential-documentation-url).
			'n8n-nodes-base/cred-class-field-documentation-url-miscased': 'off',
		},
	},
	{
		files: ['test/**/*.js', 'scripts/**/*.js'],
		languageOptions: {
			sourceType: 'commonjs',
			globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly', console: 'readonly', Buffer: 'readonly' },
		},
	},
);
