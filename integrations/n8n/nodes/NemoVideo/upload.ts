import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';
import { randomBytes } from 'crypto';

import { gatewayRequest } from './GenericFunctions';

/** A multipart/form-data body with one file part named `file` (exported for the unit tests). */
export function multipartBody(
	file: Buffer,
	fileName: string,
	mimeType: string,
	boundary = `----n8nNemoVideo${randomBytes(12).toString('hex')}`,
): { body: Buffer; contentType: string } {
	const safeName = fileName.replace(/["\r\n\\]/g, '_');
	const head =
		`--${boundary}\r\n` +
		`Content-Disposition: form-data; name="file"; filename="${safeName}"\r\n` +
		`Content-Type: ${mimeType}\r\n\r\n`;
	const tail = `\r\n--${boundary}--\r\n`;
	return {
		body: Buffer.concat([Buffer.from(head, 'utf8'), file, Buffer.from(tail, 'utf8')]),
		contentType: `multipart/form-data; boundary=${boundary}`,
	};
}

/** `POST /v1/uploads`: a binary file from the input item (multipart) or `{url}` for the gateway to fetch. */
export async function uploadMedia(this: IExecuteFunctions, i: number): Promise<IDataObject> {
	const source = this.getNodeParameter('source', i) as string;
	if (source === 'url') {
		const url = (this.getNodeParameter('url', i) as string).trim();
		return (await gatewayRequest.call(this, { method: 'POST', path: '/v1/uploads', body: { url } })) as IDataObject;
	}
	const property = this.getNodeParameter('binaryPropertyName', i) as string;
	const binary = this.helpers.assertBinaryData(i, property);
	const data = await this.helpers.getBinaryDataBuffer(i, property);
	const { body, contentType } = multipartBody(
		data,
		binary.fileName ?? `upload.${binary.fileExtension ?? 'bin'}`,
		binary.mimeType || 'application/octet-stream',
	);
	return (await gatewayRequest.call(this, {
		method: 'POST',
		path: '/v1/uploads',
		body,
		headers: { 'Content-Type': contentType },
		timeoutSeconds: 600,
	})) as IDataObject;
}
