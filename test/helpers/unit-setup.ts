// The unit project runs its files in shared workers (vitest `isolate: false`, vitest.config.ts):
// importing the AWS SDK once per worker instead of once per file takes the unit run from ~36 s to
// ~11 s. What a file mocks must not reach the next one: after each file, every SDK client class
// this suite mocks gets its real `send` back (aws-sdk-client-mock's mockClient() replaces an
// earlier stub, restore() puts the original back).
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, vi } from 'vitest';
import { clientClasses } from './mock-aws.js';

afterAll(() => {
  for (const Client of Object.values(clientClasses)) mockClient(Client as never).restore();
  vi.unstubAllEnvs();
  vi.useRealTimers();
});
