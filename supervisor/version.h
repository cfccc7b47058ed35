/* version.h — the one place the version is written. */
#ifndef UHW_VERSION_H
#define UHW_VERSION_H
#define UHW_VERSION "0.1.0"
#endif
