/** The version both API documents state: OpenAPI (/docs-json) and AsyncAPI (/asyncapi.json). */
export const API_VERSION = '0.1.0';
