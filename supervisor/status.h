/*
 * status.h — the status document of `uhw status` and GET /status (DESIGN.md §6),
 * assembled from one function per level: server, pool, worker slot.
 */
#ifndef UHW_STATUS_H
#define UHW_STATUS_H

#include <jansson.h>

#include "types.h"

json_t *status_json(server_t *srv);
json_t *pool_status_json(pool_t *pool);
json_t *slot_status_json(slot_t *slot);

#endif
