// Moved to src/dev/talkdesk-copy.ts so the chaos script (built from src/, not test/) shares it.
export { TalkdeskCopy, crmTruth, diff, diffCount, type Contact, type CopyDiff, type CopyRun, type SyncCall, type SyncEndpoint } from '../../src/dev/talkdesk-copy.js';
