// How read-model documents are keyed.

/**
 * The _id of a document keyed by a number (product, user, shard): a padded
 * string, because FerretDB's SQLite backend pushes down only string (and
 * ObjectId) _id lookups; a numeric _id would scan the collection. Padding
 * keeps the string order equal to the numeric order for keyset paging.
 */
export const numericKey = (n: number): string => String(n).padStart(10, '0');
