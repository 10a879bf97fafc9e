-- Room on every page for the new version of a row, so that an update can
-- be a heap-only tuple (HOT): no new index entries, and the old version is
-- pruned from the page without a vacuum. A customer's row is updated twice
-- per order (its stats, then its balance); at the default fillfactor of 100
-- nine in ten of those updates wrote every index again.
ALTER TABLE customers SET (fillfactor = 70);
