/*
 * rules.c — see rules.h.
 */
#include "rules.h"

#include <string.h>
#include <strings.h>

int rules_status_ok(unsigned status)
{
    return status >= 200 && status <= 599;
}

int rules_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int rules_hop_by_hop(const char *name, size_t len)
{
    static const char *const hop[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                      "te",         "trailer",    "upgrade",          NULL};
    for (size_t k = 0; hop[k] != NULL; ++k)
        if (strlen(hop[k]) == len && strncasecmp(name, hop[k], len) == 0)
            return 1;
    return 0;
}

const char *rules_header_problem(const char *name, size_t nlen, const uint8_t *value, size_t vlen)
{
    if (nlen == 0)
        return "empty header name";
    for (size_t i = 0; i < nlen; ++i)
        if (!rules_tchar((unsigned char)name[i]))
            return "header name with a character not allowed in HTTP";
    if (rules_hop_by_hop(name, nlen))
        return "hop-by-hop header (uhw manages the connection)";
    for (size_t i = 0; i < vlen; ++i)
        if ((value[i] < 0x20 && value[i] != '\t') || value[i] == 0x7f)
            return "header value with a control character";
    return NULL;
}
