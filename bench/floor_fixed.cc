// The first physical floor of `make bench` (bench/README.md): a libfcgi responder that answers
// every request with the same small JSON body and does nothing else. Spawned by lighttpd like the
// handlers, so a route's throughput divided by this one's is the share the front and FastCGI leave
// to credbroker's own work.
#include <fcgiapp.h>

int main() {
  if (FCGX_Init() != 0) return 1;
  FCGX_Request request;
  if (FCGX_InitRequest(&request, 0, 0) != 0) return 1;
  while (FCGX_Accept_r(&request) == 0) {
    FCGX_PutS(
        "Status: 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n\r\n"
        "{\"servers\":[]}",
        request.out);
    FCGX_Finish_r(&request);
  }
  return 0;
}
