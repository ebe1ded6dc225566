// Units per product, for favourite and top products: summed from order
// lines, named by the first line that knows the name, ranked by units then id.

export interface ProductCount {
  product_id: number;
  product_name: string;
  count: number;
}

export class ProductCounts {
  private readonly byId = new Map<number, ProductCount>();

  add(productId: number, productName: string, units: number): void {
    const p = this.byId.get(productId) ?? { product_id: productId, product_name: '', count: 0 };
    p.count += units;
    p.product_name ||= productName;
    this.byId.set(productId, p);
  }

  top(n: number): ProductCount[] {
    return [...this.byId.values()].sort((a, b) => b.count - a.count || a.product_id - b.product_id).slice(0, n);
  }

  /** Keyed by product id, as stored in a document. */
  toRecord(): Record<string, { product_name: string; count: number }> {
    return Object.fromEntries([...this.byId.values()].map((p) => [p.product_id, { product_name: p.product_name, count: p.count }]));
  }
}
