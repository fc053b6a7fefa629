// credbroker-list: serves GET /api/v1/user/credentials.
#include "shared/app/app.h"
#include "shared/routes/routes.h"

int main(int argc, char** argv) {
  return credbroker::app::run(argc, argv, "list", credbroker::routes::list);
}
