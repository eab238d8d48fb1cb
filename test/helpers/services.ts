import { existsSync } from 'node:fs';

/**
 * Where the integration tests find PostgreSQL and Redis: containers started by testcontainers
 * when a Docker engine answers, otherwise the servers named by TEST_DATABASE_URL and
 * TEST_REDIS_URL (what .ci/run starts). The containers are marked reusable, so the test files,
 * which tap runs in separate processes, share one of each.
 */
const dockerEngineLikely = (): boolean =>
  Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock');

let adminUrl: Promise<string> | undefined;
let redisUrl: Promise<string> | undefined;

export function postgresAdminUrl(): Promise<string> {
  adminUrl ??= (async () => {
    if (process.env.TEST_DATABASE_URL) return process.env.TEST_DATABASE_URL;
    if (dockerEngineLikely()) {
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
      const container = await new PostgreSqlContainer('postgres:15').withReuse().start();
      return container.getConnectionUri();
    }
    throw new Error(
      'no PostgreSQL for the tests: set TEST_DATABASE_URL (a role that may CREATE DATABASE) or run a Docker engine',
    );
  })();
  return adminUrl;
}

export function testRedisUrl(): Promise<string> {
  redisUrl ??= (async () => {
    if (process.env.TEST_REDIS_URL) return process.env.TEST_REDIS_URL;
    if (dockerEngineLikely()) {
      const { RedisContainer } = await import('@testcontainers/redis');
      const container = await new RedisContainer('redis:7').withReuse().start();
      return container.getConnectionUrl();
    }
    throw new Error('no Redis for the tests: set TEST_REDIS_URL or run a Docker engine');
  })();
  return redisUrl;
}
