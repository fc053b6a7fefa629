// credbroker-connect: serves GET /api/v1/user/credentials/{server}/connect.
#include "shared/app/app.h"
#include "shared/routes/routes.h"

int main(int argc, char** argv) {
  return credbroker::app::run(argc, argv, "connect", credbroker::routes::connect);
}
