// The second physical floor of `make bench` (bench/README.md): a libfcgi responder that makes one
// Redis round trip per request (HGETALL of one hash over one persistent connection) and answers
// its field count. Every route that reads Redis once cannot beat it on the same front and Redis.
//
// Environment: CREDBROKER_FLOOR_REDIS_SOCKET (a Unix socket path), CREDBROKER_FLOOR_KEY.
#include <fcgiapp.h>
#include <hiredis/hiredis.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

redisContext* connect_redis(const char* socket_path) {
  redisContext* c = redisConnectUnix(socket_path);
  if (c != nullptr && c->err != 0) {
    redisFree(c);
    return nullptr;
  }
  return c;
}

}  // namespace

int main() {
  const char* socket_path = std::getenv("CREDBROKER_FLOOR_REDIS_SOCKET");
  const char* key = std::getenv("CREDBROKER_FLOOR_KEY");
  if (socket_path == nullptr || key == nullptr) return 2;
  redisContext* redis = connect_redis(socket_path);
  if (FCGX_Init() != 0) return 1;
  FCGX_Request request;
  if (FCGX_InitRequest(&request, 0, 0) != 0) return 1;
  while (FCGX_Accept_r(&request) == 0) {
    if (redis == nullptr) redis = connect_redis(socket_path);
    auto* reply = redis == nullptr
                      ? nullptr
                      : static_cast<redisReply*>(redisCommand(redis, "HGETALL %s", key));
    if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) {
      if (reply != nullptr) freeReplyObject(reply);
      if (redis != nullptr) redisFree(redis);
      redis = nullptr;
      FCGX_PutS("Status: 503 Service Unavailable\r\nContent-Type: application/json\r\n\r\n{}",
                request.out);
    } else {
      const std::string body = "{\"fields\":" + std::to_string(reply->elements / 2) + "}";
      freeReplyObject(reply);
      FCGX_PutS(
          "Status: 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n\r\n",
          request.out);
      FCGX_PutStr(body.data(), static_cast<int>(body.size()), request.out);
    }
    FCGX_Finish_r(&request);
  }
  return 0;
}
