/*
 * notify.h — readiness notifications to systemd (Type=notify), sent with libsystemd's
 * sd_notify only when NOTIFY_SOCKET is set: READY=1 once serving, RELOADING=1 / READY=1
 * around a reload, STOPPING=1 when a stop begins. Workers never see NOTIFY_SOCKET.
 */
#ifndef UHW_NOTIFY_H
#define UHW_NOTIFY_H

/* `state` is one or more "KEY=value" lines, as sd_notify takes them. */
void notify_systemd(const char *state);

#endif
