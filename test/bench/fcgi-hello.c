/*
 * fcgi-hello — the FastCGI peer of build/workers/hello for `make bench`: a persistent
 * process that answers every request with 200 "hello\n" (text/plain).
 *
 * libfcgi (Debian libfcgi-dev) speaks the protocol; spawn-fcgi binds the socket, passes it
 * as fd 0 and forks two of these (-F 2), the way PHP-FPM-style pools run behind nginx.
 */
#include <fcgiapp.h>
#include <stdio.h>

int main(void)
{
    FCGX_Request req;
    if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0) {
        fprintf(stderr, "fcgi-hello: cannot initialise libfcgi\n");
        return 1;
    }
    while (FCGX_Accept_r(&req) >= 0) {
        FCGX_PutS("Content-Type: text/plain\r\n\r\nhello\n", req.out);
        FCGX_Finish_r(&req);
    }
    FCGX_Free(&req, 1);
    return 0;
}
