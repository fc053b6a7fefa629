// credbroker-authorize: the front authorizer for proxied upstream paths
// (<path_prefix><server>/...).
#include "shared/app/app.h"
#include "shared/routes/routes.h"

int main(int argc, char** argv) {
  return credbroker::app::run(argc, argv, "authorize", credbroker::routes::authorize);
}
