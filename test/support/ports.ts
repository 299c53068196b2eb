export { freePort } from './spawn.mjs';
