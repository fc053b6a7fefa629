// The baseline of the one-shot start measurement in `make bench`: a dynamically linked C++
// program that prints a CGI answer and exits. A handler's one-shot start minus this one's is what
// credbroker itself costs before answering (config, keys, Redis, the answer).
#include <cstdio>

int main() {
  std::fputs("Status: 200 OK\r\nContent-Type: application/json\r\n\r\n{}", stdout);
  return 0;
}
