#pragma once
// A temporary directory removed (recursively) when the object dies, and small file helpers.

#include <string>
#include <string_view>

namespace credbroker::testing {

class TempDir {
 public:
  explicit TempDir(std::string_view tag = "credbroker");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  /** path() + "/" + name */
  std::string file(std::string_view name) const;

 private:
  std::string path_;
};

void write_file(const std::string& path, std::string_view content);
std::string read_file(const std::string& path);  // "" when missing

}  // namespace credbroker::testing
