// ESM entry: `import { serve } from 'uhw-worker'` (when installed in node_modules; ESM does not
// search NODE_PATH, so under uhw's NODE_PATH use createRequire, see README.md).
import cjs from './index.js';

export const { serve, log, settings, stopping, setCapacity, pause, resume, UhwCancelError, format } = cjs;
export default cjs;
