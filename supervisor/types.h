/*
 * types.h — forward declarations shared by the supervisor's modules, so each
 * header can name the others' types without including them.
 */
#ifndef UHW_TYPES_H
#define UHW_TYPES_H

typedef struct server server_t;   /* server.h: the one owner of all state */
typedef struct pool pool_t;       /* pool.h: a pool of worker slots */
typedef struct slot slot_t;       /* pool.h: one numbered place in a pool */
typedef struct worker worker_t;   /* worker.h: one worker process */
typedef struct request request_t; /* dispatch.h: one HTTP request on its way to a worker */

#endif
