// A small catalog so a first `npm start` answers the seed's curl (product
// 456) with a validated order instead of a rejection.
import { credentials, Metadata } from '@grpc/grpc-js';
import { CommandServiceClient, type UpdateInventoryRequest } from '../gen/ts/cqrs/v1/command_service';

export const SAMPLE_CATALOG: UpdateInventoryRequest[] = [
  { productId: 456, productName: 'Mechanical keyboard', unitPrice: 49.99, quantity: 100, lowStockThreshold: 10 },
  { productId: 457, productName: 'Wireless mouse', unitPrice: 19.9, quantity: 250, lowStockThreshold: 20 },
  { productId: 458, productName: 'USB-C hub', unitPrice: 34.5, quantity: 40, lowStockThreshold: 5 },
  { productId: 459, productName: '27" monitor', unitPrice: 229, quantity: 12, lowStockThreshold: 3 },
  { productId: 460, productName: 'Laptop stand', unitPrice: 27.95, quantity: 8, lowStockThreshold: 10 },
];

/** With `token`, as a service with its own credentials (AUTH=on). */
export async function stockSampleCatalog(commandAddr: string, token?: string): Promise<void> {
  const client = new CommandServiceClient(commandAddr, credentials.createInsecure());
  const md = new Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  try {
    for (const item of SAMPLE_CATALOG) {
      await new Promise<void>((resolve, reject) => client.updateInventory(item, md, (err) => (err ? reject(err) : resolve())));
    }
  } finally {
    client.close();
  }
}
