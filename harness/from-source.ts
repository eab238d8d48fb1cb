/**
 * Node's flags to run one of the product's entry points from source in a child process: tsx, as
 * `npm run` scripts do. Not the parent's own loader flags: under tap they add its process-tracking
 * and mocking hooks to the child, which doubled a server's start-up (tens of seconds on a busy
 * two-core machine, longer than the chaos run gives ingest to catch up).
 */
export const FROM_SOURCE = ['--import', 'tsx'];
