// Each test suite gets its own RabbitMQ virtual host on the machine's real
// broker, so exchange and queue names stay exactly as in DESIGN.md while
// suites (and a running `npm start`) never see each other's messages.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const BASE = process.env.TEST_AMQP_BASE ?? 'amqp://guest:guest@127.0.0.1:5672';

function rabbitmqctl(...args: string[]): void {
  execFileSync('rabbitmqctl', args, { stdio: 'pipe', timeout: 30_000 });
}

export interface TestVhost {
  name: string;
  url: string;
  remove(): void;
}

export function createVhost(prefix = 'cqrs-test'): TestVhost {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  rabbitmqctl('add_vhost', name);
  rabbitmqctl('set_permissions', '-p', name, 'guest', '.*', '.*', '.*');
  return {
    name,
    url: `${BASE}/${encodeURIComponent(name)}`,
    remove: () => rabbitmqctl('delete_vhost', name),
  };
}
