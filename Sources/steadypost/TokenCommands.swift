import ArgumentParser
import FoundationEssentials
import SteadyControl

/// `steadypost token create NAME | list | revoke NAME`: the HTTP API's bearer tokens,
/// routed to the api worker (`api.token-create`, `api.token-list`, `api.token-revoke`), so
/// the control socket's access rule decides who may make them.
extension SteadypostCLI {
    struct Token: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bearer tokens for the HTTP API (/api/*).",
            subcommands: [Create.self, List.self, Revoke.self])

        struct Create: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Make a token; it is printed once and stored only as its SHA-256.")
            @Argument(help: "A name for it: 1-64 of a-z, 0-9, '-'.") var name: String
            @OptionGroup var connection: Connection

            func run() throws {
                let answer = try tokenCall("token-create", name: name, connection)
                if connection.json { writeOut(String(decoding: answer, as: UTF8.self) + "\n"); return }
                let created = try JSONDecoder().decode(CreatedToken.self, from: Data(answer))
                writeOut(created.token + "\n")
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Every token by name: created, last used, revoked.")
            @OptionGroup var connection: Connection

            func run() throws {
                let answer = try tokenCall("token-list", name: nil, connection)
                if connection.json { writeOut(String(decoding: answer, as: UTF8.self) + "\n"); return }
                let list = try JSONDecoder().decode(TokenList.self, from: Data(answer))
                var out = "NAME                 CREATED               LAST USED             STATE\n"
                for t in list.tokens {
                    func col(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(1, w - s.count)) }
                    out += col(t.name, 21) + col(t.created_at, 22) + col(t.last_used_at ?? "-", 22) + (t.revoked_at.map { "revoked \($0)" } ?? "active") + "\n"
                }
                writeOut(out)
            }
        }

        struct Revoke: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke a token: requests carrying it are refused from now on.")
            @Argument(help: "The token's name.") var name: String
            @OptionGroup var connection: Connection

            func run() throws {
                let answer = try tokenCall("token-revoke", name: name, connection)
                printAnswer(answer, json: connection.json)
            }
        }
    }
}

func tokenCall(_ method: String, name: String?, _ connection: Connection) throws -> [UInt8] {
    let client = try connection.client()
    let body = (try? JSONEncoder().encode(TokenName(name: name))).map { Array($0) } ?? Array("{}".utf8)
    return perform { () throws(ControlClientError) in try client.call(method: "api.\(method)", body: body) }
}

struct TokenName: Encodable { var name: String? }
struct CreatedToken: Decodable { var name: String; var token: String }
struct TokenList: Decodable {
    struct Item: Decodable {
        var name: String
        var created_at: String
        var revoked_at: String?
        var last_used_at: String?
    }
    var tokens: [Item]
}
