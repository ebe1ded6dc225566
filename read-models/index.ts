// The read models as stored in the read store (db cqrs_read): document
// shapes, keys, collection names, and the pure reads both the projector
// (which writes them) and query-svc (which serves them) need. Neither
// service imports the other; both import this.
export * from './collections';
export * from './counters';
export * from './inventory';
export * from './keys';
export * from './orders';
export * from './statistics';
export * from './users';
