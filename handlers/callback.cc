// credbroker-callback: serves GET /api/v1/user/credentials/{server}/callback.
#include "shared/app/app.h"
#include "shared/routes/routes.h"

int main(int argc, char** argv) {
  return credbroker::app::run(argc, argv, "callback", credbroker::routes::callback);
}
