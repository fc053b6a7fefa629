// credbroker-delete: serves DELETE /api/v1/user/credentials/{server}.
#include "shared/app/app.h"
#include "shared/routes/routes.h"

int main(int argc, char** argv) {
  return credbroker::app::run(argc, argv, "delete", credbroker::routes::disconnect);
}
