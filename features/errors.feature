Feature: Error responses
  Errors come back as JSON: {"error", "message"} and, for validation errors,
  "details" naming each field ("Your First API Call", error handling).

  @must @ERR-0
  Scenario: The three documented errors share one shape
    Given the admin user is logged in
    And the limited user is logged in
    When someone lists accounts without a token
    Then the response is a "Unauthorized" error with status 401
    When the limited user creates an account with a new name
    Then the response is a "Forbidden" error with status 403
    When the admin user creates an account from the body {"is_default": true}
    Then the response is a "ValidationError" error with status 422
    And the error details name "name"

  @must @ERR-2
  Scenario Outline: A body that is not a JSON object is a client error, never a crash
    Given the admin user is logged in
    When they send POST "<path>" with the raw body <body>
    Then the response is a client error with a JSON error body

    Examples:
      | path                    | body           |
      | /authentication/login   | not json at all |
      | /authentication/login   | [1, 2, 3]      |
      | /authentication/login   | "a string"     |
      | /authentication/refresh | {"refresh_token": |
      | /authentication/refresh | null           |
      | /accounts               | {name: Staging} |
      | /accounts               | ["Staging"]    |

  @should @ERR-1
  Scenario Outline: Other errors use the same shape: <error>
    Given the admin user is logged in
    When they send <request>
    Then the response is a "<error>" error with status <status>

    Examples:
      | request                                         | error                | status |
      | GET "/no-such-resource"                         | NotFound             | 404    |
      | DELETE "/authentication/login"                  | MethodNotAllowed     | 405    |
      | POST "/accounts" with a body of 8 MiB           | PayloadTooLarge      | 413    |
      | POST "/accounts" with a plain text body         | UnsupportedMediaType | 415    |
