/** The status page: one static HTML document; it fetches `status` (relative) every 2 s. */
export const STATUS_PAGE = '<!doctype html><meta charset="utf-8"><title>hostmux status</title><p>hostmux status</p>\n';
