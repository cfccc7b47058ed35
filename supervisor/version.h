/* version.h — the one place the version is written. */
#ifndef UHW_VERSION_H
#define UHW_VERSION_H
#define UHW_VERSION "0.2.0"
#endif
