/*
 * notify.c — see notify.h.
 */
#include "notify.h"

#include <stdlib.h>

#include <systemd/sd-daemon.h>

void notify_systemd(const char *state)
{
    if (getenv("NOTIFY_SOCKET") != NULL)
        sd_notify(0, state); /* best effort: systemd not listening is not our failure */
}
